"""Reporting: JSON documents (`documents`), rich tables (`tables`), figures (`figures`),
consoles and progress bars (`console`), JUnit XML (`junit`)."""
