"""Feature pipeline: batched extraction, the content-addressed cache, translator storage."""
