"""What the HLS and RTL backends share: the fixed-point model they both implement, its
serialized form (so `simulate --board reference` runs exactly that model), and its I/O layout."""
