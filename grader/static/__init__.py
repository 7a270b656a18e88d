"""Static reading of submitted files: archives, HDF5, configs, the allowlist, the model description. Never imports TensorFlow."""
