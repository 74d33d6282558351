"""The IAM API over the Query protocol: handlers for the operations Berth implements
(`operations`) and the one table from domain exceptions to IAM's error codes (`errors`)."""
