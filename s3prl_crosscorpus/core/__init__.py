"""The protocol core shared by both systems: labels, audio, metrics, atomic I/O, corpus readers,
the manifest and the versioned folds.

Owns every fact of PROTOCOL.md that both systems must agree on. May import only the standard
library, numpy, scipy, scikit-learn and soundfile: never torch, s3prl, openSMILE or another
package of this project.
"""
