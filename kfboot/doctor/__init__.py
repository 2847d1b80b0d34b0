"""`kfboot doctor`: read a GPU + Kubeflow cluster without writing, and say what is wrong and how to fix it.

facts.py reads (one LIST per kind), rules/ judge (pure functions facts → findings), collect.py writes
a redacted support archive, run.py ties them together for the CLI.
"""
