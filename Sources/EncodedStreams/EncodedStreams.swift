// Encoded frames and the RTCRtpScriptTransformer-like API (work in progress).
