package dev.tessera.gateway.edge;

/**
 * How fast one client connection may upload: request bodies, gRPC messages and WebSocket frames, all streams of the
 * connection together. A token bucket of bytes: {@code burstBytes} at full speed, then {@code bytesPerSecond}; past
 * it the connection's reading pauses (HTTP/2 flow-control credit is held back, so the client stops sending) until
 * the bucket has refilled. Zero {@code bytesPerSecond}: no limit.
 *
 * <p>Why: reading costs CPU the model needs. A client sending 4 MB prompts back to back as fast as loopback
 * allows (each refused from its first bytes, but still sent whole) took about a core of two between its own
 * sending and the server's reading, and another stream's token gaps grew 2-6 times ({@code bench overload},
 * {@code stall}). Held to the rate, one connection's uploads cost the server a bounded share. A message refused
 * from its first bytes is charged at its announced length ({@link MeteredRequest}), so that a client cannot go
 * faster by having its messages refused.
 *
 * @param bytesPerSecond what the bucket refills each second; 0: no limit
 * @param burstBytes     what it holds when full
 */
public record UploadRate(long bytesPerSecond, long burstBytes) {
    /** Default rate: 32 MiB a second. */
    public static final long DEFAULT_BYTES_PER_SECOND = 32L << 20;
    /** Default burst: 16 MiB, four messages of the default 4 MiB size limit at full speed. */
    public static final long DEFAULT_BURST_BYTES = 16L << 20;

    public UploadRate {
        if (bytesPerSecond < 0) throw new IllegalArgumentException("upload rate must be >= 0, got " + bytesPerSecond);
        if (bytesPerSecond > 0 && burstBytes <= 0) {
            throw new IllegalArgumentException("upload burst must be > 0, got " + burstBytes);
        }
    }

    public static UploadRate defaults() {
        return new UploadRate(DEFAULT_BYTES_PER_SECOND, DEFAULT_BURST_BYTES);
    }

    public static UploadRate unlimited() {
        return new UploadRate(0, 0);
    }

    public boolean limited() {
        return bytesPerSecond > 0;
    }
}
