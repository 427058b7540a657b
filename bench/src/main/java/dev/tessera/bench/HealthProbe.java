package dev.tessera.bench;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Polls {@code grpc.health.v1.Health/Check} until the server says SERVING. */
final class HealthProbe {
    private static final MethodDescriptor<HealthCheckRequest, HealthCheckResponse> CHECK =
            MethodDescriptor.<HealthCheckRequest, HealthCheckResponse>newBuilder()
                    .setType(MethodDescriptor.MethodType.UNARY)
                    .setFullMethodName("grpc.health.v1.Health/Check")
                    .setRequestMarshaller(ProtoUtils.marshaller(HealthCheckRequest.getDefaultInstance()))
                    .setResponseMarshaller(ProtoUtils.marshaller(HealthCheckResponse.getDefaultInstance()))
                    .build();

    private HealthProbe() {
    }

    /** Waits until {@code host:port} reports SERVING; returns false after {@code timeout}. */
    static boolean awaitServing(String host, int port, Duration timeout, Process process)
            throws InterruptedException {
        ManagedChannel channel = NettyChannelBuilder.forAddress(host, port).usePlaintext().build();
        try {
            long end = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < end) {
                if (process != null && !process.isAlive()) {
                    return false;
                }
                try {
                    HealthCheckResponse r = ClientCalls.blockingUnaryCall(channel, CHECK,
                            CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS),
                            HealthCheckRequest.getDefaultInstance());
                    if (r.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
                        return true;
                    }
                } catch (RuntimeException notYet) {
                    // Not listening yet, or still loading.
                }
                Thread.sleep(20);
            }
            return false;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
