"""What a valid export row is: the rule catalog (each rule once), its check kernels, and the pandera
model built from the catalog that validates every night."""
