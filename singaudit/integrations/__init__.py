"""Where ML teams keep their records: MLflow tracking runs and Hugging Face model cards, written
from a finished audit's results.json (a front end: nothing here computes a measurement)."""
