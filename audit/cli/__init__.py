"""The command line: `main` parses the arguments and hands them to one module per command.

Only this package reads argparse namespaces; everything below it takes typed arguments.
"""
