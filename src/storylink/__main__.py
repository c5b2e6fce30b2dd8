"""`python -m storylink` runs the command line."""

from .cli import app

app()
