package dev.tessera.gateway.hostile;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.text.TextConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/** A real server on a loopback port serving {@code builtin:tiny} (random weights), with a grpc-java channel. */
final class HostileServer implements AutoCloseable {
    final TesseraServer server;
    final int port;
    final ManagedChannel channel;
    /** For the {@link Canary}: a 1 KiB HTTP/2 window, so that the server pauses the canary while it is not read. */
    final ManagedChannel canaryChannel;

    private HostileServer(TesseraServer server, @Nullable String apiKey) {
        this.server = server;
        this.port = server.gateway().port();
        this.channel = channel(port, apiKey);
        this.canaryChannel = canaryChannel(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext(), apiKey);
    }

    /** A channel to {@code port} that sends {@code authorization: Bearer apiKey} on every call (none if null). */
    static ManagedChannel channel(int port, @Nullable String apiKey) {
        return withKey(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext(), apiKey).build();
    }

    /** {@code b} with a 1 KiB flow-control window (see {@link Canary}) and {@code apiKey}. */
    static ManagedChannel canaryChannel(NettyChannelBuilder b, @Nullable String apiKey) {
        return withKey(b.flowControlWindow(1024), apiKey).build();
    }

    private static NettyChannelBuilder withKey(NettyChannelBuilder b, @Nullable String apiKey) {
        if (apiKey != null) {
            Metadata auth = new Metadata();
            auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + apiKey);
            b.intercept(MetadataUtils.newAttachHeadersInterceptor(auth));
        }
        return b;
    }

    /**
     * Loopback, any free port, 1 MiB messages, a 10 s grace, and 1 KiB queued per stream before its job pauses (so
     * that the {@link Canary} is held in flight while the test does not read it).
     */
    static GatewayOptions loopback() {
        return GatewayOptions.defaults().withHost("127.0.0.1").withPort(0).withMaxMessageBytes(1 << 20)
                .withGracePeriod(Duration.ofSeconds(10)).withWriteQueueMaxBytes(1024);
    }

    static HostileServer start(Path cache, GatewayOptions options) {
        return start(cache, options, null);
    }

    /** @param apiKey the key {@link #channel} presents, or null */
    static HostileServer start(Path cache, GatewayOptions options, @Nullable String apiKey) {
        return start(cache, options, apiKey, TextConfig.defaults());
    }

    /** @param lane the text lane's limits */
    static HostileServer start(Path cache, GatewayOptions options, @Nullable String apiKey, TextConfig lane) {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        return new HostileServer(TesseraServer.start(options, new ModelSpec.Text(engine, lane)), apiKey);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        canaryChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }
}
