"""The one typed boundary between the front ends (cli/, screens/) and the engine: `Operations` is the
contract, `LiveOperations` does it on this machine. The front ends import the engine only through here
(plus the answers model and the error and event types)."""
