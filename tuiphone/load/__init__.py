"""Trunk tests at load: calls placed or answered by worker processes (4 calls each, this pjsua2 wheel's limit),
a media check on every call (tones in preallocated buffers, received audio analysed in 1 s blocks), the
per-call record and the run's aggregate, JUnit and CSV writers. Outside the desk phone's line model."""
