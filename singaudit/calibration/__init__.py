"""The calibration world: synthetic scenes, a small joint space, planted-leak classifiers and a
decoder, trained by ``python -m singaudit.calibration.train`` and shipped as safetensors."""
