"""outreach-triage: label the asks in an inbox and weigh them against each sender's social capital."""
