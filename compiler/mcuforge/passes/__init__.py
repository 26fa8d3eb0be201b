"""Graph -> Graph transformations, one idea per file, composed into pipelines in pipeline.py."""
