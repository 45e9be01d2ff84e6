"""Top-1 accuracy on the audit images, data classes matched to model classes by name."""

from __future__ import annotations

import torch

from singaudit.runner.accuracy import audit_accuracy


def test_accuracy_per_class_matches_names_not_positions():
    # the model lists its classes in another order and spelling than the data
    model_classes = ["Sports_Car", "jellyfish", "jeep"]
    data_classes = ["jeep", "sports car", "lionfish"]
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    predicted = torch.tensor([2, 2, 2, 1, 0, 1, 0])  # jeep 3/4, sports car 1/2, lionfish unknown
    logits = torch.nn.functional.one_hot(predicted, 3).float()
    accuracy = audit_accuracy(logits, labels, data_classes, model_classes)
    assert accuracy["top1_per_class"] == {"jeep": 0.75, "sports car": 0.5}
    assert accuracy["top1"] == 4 / 6  # over the images of matched classes only
    assert accuracy["unmatched_classes"] == ["lionfish"]


def test_no_matching_class_gives_no_accuracy_and_names_every_class():
    accuracy = audit_accuracy(torch.eye(2), torch.tensor([0, 1]), ["a", "b"], ["x", "y"])
    assert accuracy == {"top1": None, "top1_per_class": {}, "unmatched_classes": ["a", "b"]}
