"""Pure SING maths: head geometry, equivalent features, scores, statistics, steering, translators.

Torch first and batched (rows are samples); numpy accepted at the edges; no I/O.
"""
