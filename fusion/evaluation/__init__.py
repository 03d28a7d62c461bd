"""Quality of a cut against human masks (`promptcut eval`): datasets, metrics, reference baselines, studio-style
composites. A product feature: users run it on their own labelled photos."""
