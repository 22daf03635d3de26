"""Tests of the auction engine's pure core (bidding/)."""
