"""Side-by-side benchmarks of Variformer against the stock transformers models; run `python benchmarks/run.py`."""
