"""The models that ship with outreach-triage: ``outreach/`` is the default one (skops artifact,
manifest with its sha256, metrics and model card). Installed as package data (``classifier.models``)."""
