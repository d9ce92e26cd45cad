// Two webrtcbin peers in one process (work in progress).
