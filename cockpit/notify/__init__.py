"""Telling the people who are not at the keyboard: milestones sent through apprise."""
