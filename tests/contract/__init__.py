"""The provider contract: behaviour every provider must show, whatever it talks to.

`suite.py` holds the test classes; a provider's tests subclass them and supply a `world`
fixture (see suite.TargetWorld / SourceWorld / MailWorld). tests/ is on sys.path through
tests/conftest.py, so a provider's tests import them as `from contract.suite import ...`.
"""
