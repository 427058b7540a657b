package dev.tessera.gateway.hostile;

import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.text.TextConfig;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** A real server on a loopback port serving {@code builtin:tiny} (random weights), with a grpc-java channel. */
final class HostileServer implements AutoCloseable {
    final TesseraServer server;
    final int port;
    final ManagedChannel channel;

    private HostileServer(TesseraServer server) {
        this.server = server;
        this.port = server.gateway().port();
        this.channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
    }

    /** Loopback, any free port, 1 MiB messages, a 10 s grace. */
    static GatewayOptions loopback() {
        return GatewayOptions.defaults().withHost("127.0.0.1").withPort(0).withMaxMessageBytes(1 << 20)
                .withGracePeriod(Duration.ofSeconds(10));
    }

    static HostileServer start(Path cache, GatewayOptions options) {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        return new HostileServer(TesseraServer.start(options, new ModelSpec.Text(engine, TextConfig.defaults())));
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }
}
