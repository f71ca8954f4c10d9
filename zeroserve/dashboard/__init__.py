"""The web dashboard served by ``zeroserve up`` on the API's listener (:mod:`.server`)."""
