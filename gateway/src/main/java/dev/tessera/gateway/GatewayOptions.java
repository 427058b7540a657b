package dev.tessera.gateway;

import dev.tessera.gateway.edge.EdgeOptions;
import java.time.Duration;

/**
 * Limits and settings of the gateway.
 *
 * @param host                 interface to bind, e.g. {@code 0.0.0.0} or {@code 127.0.0.1}
 * @param port                 TCP port; 0 picks a free one (see {@link GatewayServer#port()})
 * @param maxConcurrentStreams HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: concurrent calls per connection
 * @param maxMessageBytes      largest accepted gRPC message; a bigger one is answered RESOURCE_EXHAUSTED
 * @param maxJobsPerSession    live jobs one Session stream may carry at once
 * @param gracePeriod          on shutdown, how long in-flight calls may run before they are cancelled
 * @param streamBatch          events requested from a job's Flux at a time (refilled at half); bounds the events
 *                             queued per job between scheduler and socket
 * @param writeQueueMaxBytes   per-stream bytes the server queues for a client before it stops pulling events
 * @param edge                 who may call: WebSocket origins
 * @param warmupCalls          calls sent over loopback through the request path before health says SERVING
 *                             ({@link GatewayWarmup}); 0 for none
 */
public record GatewayOptions(String host, int port, int maxConcurrentStreams, int maxMessageBytes,
                             int maxJobsPerSession, Duration gracePeriod, int streamBatch,
                             int writeQueueMaxBytes, EdgeOptions edge, int warmupCalls) {

    public GatewayOptions {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host must not be blank");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        }
        if (maxConcurrentStreams < 1) {
            throw new IllegalArgumentException("maxConcurrentStreams must be >= 1, got " + maxConcurrentStreams);
        }
        if (maxMessageBytes < 1024) {
            throw new IllegalArgumentException("maxMessageBytes must be >= 1024, got " + maxMessageBytes);
        }
        if (maxJobsPerSession < 1) {
            throw new IllegalArgumentException("maxJobsPerSession must be >= 1, got " + maxJobsPerSession);
        }
        if (gracePeriod == null || gracePeriod.isNegative()) {
            throw new IllegalArgumentException("gracePeriod must be >= 0, got " + gracePeriod);
        }
        if (streamBatch < 2) {
            throw new IllegalArgumentException("streamBatch must be >= 2, got " + streamBatch);
        }
        if (writeQueueMaxBytes < 1024) {
            throw new IllegalArgumentException("writeQueueMaxBytes must be >= 1024, got " + writeQueueMaxBytes);
        }
        if (edge == null) {
            throw new IllegalArgumentException("edge must not be null");
        }
        if (warmupCalls < 0) {
            throw new IllegalArgumentException("warmupCalls must be >= 0, got " + warmupCalls);
        }
    }

    /**
     * Port 8080 on every interface, 128 streams per connection, 4 MiB messages, 64 jobs per session, 30 s grace, no
     * warm-up (serve's {@code --warmup-calls} has one).
     */
    public static GatewayOptions defaults() {
        return new GatewayOptions("0.0.0.0", 8080, 128, 4 << 20, 64, Duration.ofSeconds(30), 16, 64 << 10,
                EdgeOptions.defaults(), 0);
    }

    public GatewayOptions withHost(String h) {
        return new GatewayOptions(h, port, maxConcurrentStreams, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }

    public GatewayOptions withPort(int p) {
        return new GatewayOptions(host, p, maxConcurrentStreams, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }

    public GatewayOptions withMaxMessageBytes(int b) {
        return new GatewayOptions(host, port, maxConcurrentStreams, b, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }


    public GatewayOptions withMaxJobsPerSession(int j) {
        return new GatewayOptions(host, port, maxConcurrentStreams, maxMessageBytes, j,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }

    public GatewayOptions withMaxConcurrentStreams(int s) {
        return new GatewayOptions(host, port, s, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }

    public GatewayOptions withGracePeriod(Duration g) {
        return new GatewayOptions(host, port, maxConcurrentStreams, maxMessageBytes,
                maxJobsPerSession, g, streamBatch, writeQueueMaxBytes, edge, warmupCalls);
    }

    public GatewayOptions withWriteQueueMaxBytes(int w) {
        return new GatewayOptions(host, port, maxConcurrentStreams, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, w, edge, warmupCalls);
    }

    public GatewayOptions withEdge(EdgeOptions e) {
        return new GatewayOptions(host, port, maxConcurrentStreams, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, e, warmupCalls);
    }

    public GatewayOptions withWarmupCalls(int calls) {
        return new GatewayOptions(host, port, maxConcurrentStreams, maxMessageBytes, maxJobsPerSession,
                gracePeriod, streamBatch, writeQueueMaxBytes, edge, calls);
    }
}
