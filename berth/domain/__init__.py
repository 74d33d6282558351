"""Pure, synchronous registry logic: nothing here performs I/O."""
