package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.TlsOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.vertx.core.net.SelfSignedCertificate;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS on the one port with certificates the test makes itself (self-signed): gRPC over h2 by ALPN with a greedy
 * canary whose tokens match its solo run, plaintext refused; with a client CA, a client without a
 * certificate is refused and one with a certificate is served (mutual TLS).
 */
@Timeout(120)
class TlsTest {

    @Test
    void grpcOverTlsAndMutualTls(@TempDir Path cache) throws Exception {
        SelfSignedCertificate server = SelfSignedCertificate.create("localhost");
        SelfSignedCertificate client = SelfSignedCertificate.create("client");
        TlsOptions tls = new TlsOptions(Path.of(server.certificatePath()), Path.of(server.privateKeyPath()), null);
        try (HostileServer s = HostileServer.start(cache, HostileServer.loopback()
                .withEdge(EdgeOptions.defaults().withTls(tls)))) {
            ManagedChannel secure = tlsChannel(s.port, server, null);
            try {
                List<Integer> solo = Canary.solo(secure);
                Canary canary = Canary.start(secure);
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> InferenceGrpc
                        .newBlockingStub(s.channel).listModels(ListModelsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), "plaintext is refused");
                canary.step();
                canary.assertIdentical(solo);
            } finally {
                secure.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        TlsOptions mutual = new TlsOptions(tls.certificate(), tls.privateKey(), Path.of(client.certificatePath()));
        try (HostileServer s = HostileServer.start(cache, HostileServer.loopback()
                .withEdge(EdgeOptions.defaults().withTls(mutual)))) {
            ManagedChannel anonymous = tlsChannel(s.port, server, null);
            ManagedChannel known = tlsChannel(s.port, server, client);
            try {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> InferenceGrpc
                        .newBlockingStub(anonymous).listModels(ListModelsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), "no client certificate");
                assertEquals(1, InferenceGrpc.newBlockingStub(known).listModels(ListModelsRequest
                        .getDefaultInstance()).getModelsCount());
            } finally {
                anonymous.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                known.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    /** A grpc-java channel trusting {@code server}'s certificate, presenting {@code client}'s if given. */
    private static ManagedChannel tlsChannel(int port, SelfSignedCertificate server, SelfSignedCertificate client)
            throws Exception {
        SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(new File(server.certificatePath()));
        if (client != null) {
            ssl.keyManager(new File(client.certificatePath()), new File(client.privateKeyPath()));
        }
        return NettyChannelBuilder.forAddress("127.0.0.1", port).overrideAuthority("localhost")
                .sslContext(ssl.build()).flowControlWindow(1024).build();
    }
}
