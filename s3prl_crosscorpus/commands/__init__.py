"""Command-line front end: one thin module per sub-command (argument parsing, printing, exit codes)
and the ``s3prl-crosscorpus`` dispatcher (``commands.main``).

The only place (with ``baseline_svm.cli``) that imports argparse or prints for the user; may import
every other package of the project.
"""
