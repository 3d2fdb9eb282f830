"""What every part of the benchmark shares: /proc and cgroup helpers, the corral daemons, the machine."""
