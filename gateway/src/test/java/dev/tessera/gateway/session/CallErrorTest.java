package dev.tessera.gateway.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.scheduler.core.JobFailure;
import io.vertx.grpc.common.GrpcStatus;
import org.junit.jupiter.api.Test;

/** Every failure code of the serving core maps to the gRPC status of the same name, keeping field and message. */
class CallErrorTest {

    @Test
    void jobFailuresMapToStatuses() {
        CallError invalid = CallError.of(JobFailure.invalid("prompt", "too long"));
        assertEquals(GrpcStatus.INVALID_ARGUMENT, invalid.status());
        assertEquals("prompt", invalid.field());
        assertEquals("prompt: too long", invalid.message());
        assertEquals(GrpcStatus.NOT_FOUND, CallError.of(JobFailure.of(JobFailure.Code.NOT_FOUND, "x")).status());
        assertEquals(GrpcStatus.RESOURCE_EXHAUSTED,
                CallError.of(JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED, "x")).status());
        assertEquals(GrpcStatus.UNAVAILABLE, CallError.of(JobFailure.of(JobFailure.Code.UNAVAILABLE, "x")).status());
        assertEquals(GrpcStatus.UNIMPLEMENTED,
                CallError.of(JobFailure.of(JobFailure.Code.UNIMPLEMENTED, "x")).status());
        assertEquals(GrpcStatus.INTERNAL, CallError.of(JobFailure.of(JobFailure.Code.INTERNAL, "x")).status());
        assertEquals(GrpcStatus.INTERNAL, CallError.of(new IllegalStateException("boom")).status());
        assertEquals(GrpcStatus.INVALID_ARGUMENT, CallError.of(JobFailure.invalid("f", "m").exception()).status());
    }

    @Test
    void clientTextIsEchoedBoundedly() {
        String huge = "m".repeat(100_000);
        assertEquals("'" + "m".repeat(JobFailure.MAX_ECHO) + "...' (100000 characters)", JobFailure.quote(huge));
        assertEquals("'short'", JobFailure.quote("short"));
    }
}
