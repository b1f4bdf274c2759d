"""Thin views: parse input, call a service, commit once, render or redirect."""
