"""Arrow and byte-level kernels the rules, the serializer and the diff run on: zero-copy text columns,
both cores, State Test Numbers as integers, scans of string buffers."""
