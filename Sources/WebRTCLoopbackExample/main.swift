// webrtc-loopback example program (work in progress).
print("not implemented yet")
