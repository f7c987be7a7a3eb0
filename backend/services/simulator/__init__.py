"""The simulated coach: RV-C device models, nodes on the bus, the load generator and log tools."""
