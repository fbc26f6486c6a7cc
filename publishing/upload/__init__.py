"""The /legacy/ upload: the pipeline (pipeline.py) and the steps it runs, one module each."""
