"""RFQ Arena's procurement domain: companies, certification, festivals, RFQs, contracts."""

__version__ = "0.1.0"
