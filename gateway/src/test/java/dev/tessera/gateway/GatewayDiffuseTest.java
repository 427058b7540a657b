package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.ListModelsRequest;
import dev.tessera.api.v1.ModelKind;
import dev.tessera.api.v1.Sampler;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.diffusion.DiffusionOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.diffuse.DiffuseConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Diffusion through the gateway on the real core and the built-in sd-tiny pipeline (random weights). */
@Timeout(180)
class GatewayDiffuseTest {
    @TempDir
    static Path cache;
    private static TesseraServer tessera;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        ModelSpec sd = new ModelSpec.Diffusion(new DiffusionOptions(BuiltinModels.materialize("sd-tiny", cache),
                cache, 2), DiffuseConfig.DEFAULTS);
        tessera = TesseraServer.start(GatewayTestSupport.loopback(), List.of(sd), Scheduler.builder());
        channel = GatewayTestSupport.channel(tessera.gateway());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        tessera.close();
    }

    private static DiffuseRequest request() {
        return DiffuseRequest.newBuilder().setPrompt("a red fox in the snow").setNegativePrompt("blurry")
                .setSteps(4).setGuidanceScale(5f).setSampler(Sampler.SAMPLER_EULER_ANCESTRAL).setSeed(7)
                .setPreviewEvery(2).build();
    }

    private static List<DiffuseResponse> diffuse(DiffuseRequest r) {
        List<DiffuseResponse> out = new ArrayList<>();
        Iterator<DiffuseResponse> it = InferenceGrpc.newBlockingStub(channel).diffuse(r);
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void diffuseStreamsAPreviewThenAPngWithItsSeedThenFinishedAndTheSeedReproducesIt() throws Exception {
        assertEquals(ModelKind.MODEL_KIND_DIFFUSION, InferenceGrpc.newBlockingStub(channel)
                .listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getKind());
        List<DiffuseResponse> first = diffuse(request());
        assertEquals(3, first.size(), first.toString());
        assertTrue(first.get(0).hasPreview());
        assertEquals(2, first.get(0).getPreview().getStep());
        assertEquals(ImageFormat.IMAGE_FORMAT_JPEG, first.get(0).getPreview().getImage().getFormat());
        assertTrue(first.get(1).hasImage());
        assertEquals(7, first.get(1).getImage().getSeed());
        byte[] png = first.get(1).getImage().getImage().getData().toByteArray();
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        assertEquals(64, img.getWidth());
        assertEquals(64, img.getHeight());
        assertTrue(first.get(2).hasFinished());
        List<DiffuseResponse> again = diffuse(request());
        assertArrayEquals(png, again.get(1).getImage().getImage().getData().toByteArray());
    }

    @Test
    void imageToImageStartsFromTheGivenPngAndRunsTheLastStepsOfTheSchedule() throws Exception {
        BufferedImage src = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) src.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 128);
        }
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        ImageIO.write(src, "png", png);
        DiffuseRequest r = request().toBuilder().setSteps(8).setStrength(0.5f).setPreviewEvery(1)
                .setInitImage(dev.tessera.api.v1.Image.newBuilder()
                        .setData(com.google.protobuf.ByteString.copyFrom(png.toByteArray()))
                        .setFormat(ImageFormat.IMAGE_FORMAT_PNG)).build();
        List<DiffuseResponse> out = diffuse(r);
        List<Integer> steps = out.stream().filter(DiffuseResponse::hasPreview).map(p -> p.getPreview().getStep())
                .toList();
        assertEquals(List.of(5, 6, 7), steps, "strength 0.5 of 8 steps starts at step 4");
        DiffuseResponse image = out.stream().filter(DiffuseResponse::hasImage).findFirst().orElseThrow();
        assertEquals(64, image.getImage().getImage().getWidth());
        StatusRuntimeException corrupt = assertThrows(StatusRuntimeException.class,
                () -> diffuse(r.toBuilder().setInitImage(r.getInitImage().toBuilder()
                        .setData(com.google.protobuf.ByteString.copyFromUtf8("not a png"))).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, corrupt.getStatus().getCode());
        assertTrue(corrupt.getStatus().getDescription().startsWith("init_image"),
                corrupt.getStatus().getDescription());
    }

    private static dev.tessera.api.v1.Image png(int w, int h) throws java.io.IOException {
        BufferedImage src = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) src.setRGB(x, y, (x * 6 % 256) << 16 | (y * 9 % 256) << 8 | (x ^ y) & 255);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ImageIO.write(src, "png", out);
        return dev.tessera.api.v1.Image.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(out.toByteArray()))
                .setFormat(ImageFormat.IMAGE_FORMAT_PNG).build();
    }

    private static byte[] imageOf(List<DiffuseResponse> out) {
        return out.stream().filter(DiffuseResponse::hasImage).findFirst().orElseThrow().getImage().getImage()
                .getData().toByteArray();
    }

    @Test
    void aControlNetJobOnSdTinyTakesAControlImageOfAnySizeAndItChangesTheImage() throws Exception {
        DiffuseRequest controlled = request().toBuilder().setControlImage(png(40, 24)).setControlScale(0.7f).build();
        List<DiffuseResponse> out = diffuse(controlled);
        assertTrue(out.get(out.size() - 1).hasFinished(), out.toString());
        byte[] image = imageOf(out);
        assertEquals(64, ImageIO.read(new ByteArrayInputStream(image)).getWidth());
        assertArrayEquals(image, imageOf(diffuse(controlled)), "the seed reproduces a ControlNet image too");
        assertTrue(!java.util.Arrays.equals(image, imageOf(diffuse(request()))), "the ControlNet changes the image");
        assertTrue(!java.util.Arrays.equals(image, imageOf(diffuse(controlled.toBuilder().setControlScale(1.5f)
                .build()))), "and its scale matters");
    }

    @Test
    void badControlNetFieldsAreInvalidArgumentNamingThem() throws Exception {
        DiffuseRequest controlled = request().toBuilder().setControlImage(png(64, 64)).build();
        List<DiffuseRequest> bad = List.of(
                controlled.toBuilder().setControlImage(controlled.getControlImage().toBuilder()
                        .setData(com.google.protobuf.ByteString.copyFromUtf8("not a png"))).build(),
                controlled.toBuilder().setControlScale(-0.5f).build(),
                controlled.toBuilder().setControlScale(Float.NaN).build(),
                request().toBuilder().setControlScale(1f).build());
        List<String> fields = List.of("control_image", "control_scale", "control_scale", "control_scale");
        for (int i = 0; i < bad.size(); i++) {
            DiffuseRequest r = bad.get(i);
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> diffuse(r));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().startsWith(fields.get(i)), e.getStatus().getDescription());
        }
    }

    @Test
    void aBadFieldIsInvalidArgumentNamingIt() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> diffuse(request().toBuilder().setWidth(100).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("width"), e.getStatus().getDescription());
        StatusRuntimeException img2img = assertThrows(StatusRuntimeException.class,
                () -> diffuse(request().toBuilder().setStrength(0.5f).build()));
        assertTrue(img2img.getStatus().getDescription().startsWith("strength"));
    }

    @Test
    void aSessionCarriesADiffusionJob() throws Exception {
        List<SessionResponse> responses = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<SessionRequest> requests = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse value) {
                responses.add(value);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(null);
            }
        });
        requests.onNext(SessionRequest.newBuilder().setRequestId("img").setDiffuse(request()).build());
        requests.onCompleted();
        done.get(60, TimeUnit.SECONDS);
        assertTrue(responses.stream().anyMatch(SessionResponse::hasPreview), responses.toString());
        assertTrue(responses.stream().anyMatch(r -> r.hasImage() && r.getImage().getSeed() == 7));
        assertTrue(responses.get(responses.size() - 1).hasFinished());
    }
}
