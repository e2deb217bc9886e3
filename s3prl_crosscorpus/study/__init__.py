"""The staged study (``recipes/run.sh``): the jobs of each stage and the launcher that runs them."""
