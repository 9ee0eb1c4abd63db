"""The server's side of its agents: connections, the fleet, stored outputs, the built-in
agent's supervisor. Given a report sink by the composition root; imports no scheduler."""
