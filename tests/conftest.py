"""Shared fixtures: the in-process fake API server and helpers to build kfboot against it."""

pytest_plugins = ["tests.fakekube.pytest_plugin"]
