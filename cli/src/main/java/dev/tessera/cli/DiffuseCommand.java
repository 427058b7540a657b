package dev.tessera.cli;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.GeneratedImage;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.Sampler;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code diffuse}: a gRPC client of the server-streaming {@code Diffuse} RPC. It shows a progress bar on stderr from
 * the job's previews, writes the image(s) as PNG, and with {@code --previews DIR} saves each preview too. With
 * {@code --init-image} it does image-to-image ({@code --strength}); with {@code --control-image} it conditions on a
 * ControlNet image ({@code --control-scale}).
 */
@Command(name = "diffuse", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generates an image from a prompt on a running server and writes it as a PNG.",
            "A progress bar on stderr follows the denoising steps; --previews DIR also saves each preview."})
final class DiffuseCommand implements Callable<Integer> {
    static final Map<String, Sampler> SAMPLERS = Map.of("euler", Sampler.SAMPLER_EULER, "euler_a",
            Sampler.SAMPLER_EULER_ANCESTRAL, "ddim", Sampler.SAMPLER_DDIM, "dpmpp_2m", Sampler.SAMPLER_DPM_SOLVER_PP_2M,
            "lcm", Sampler.SAMPLER_LCM);
    private static final int BAR = 30;

    @Option(names = "--host", description = "Server host (default: from $TESSERA_ADDR, else 127.0.0.1).")
    @Nullable String host;

    @Option(names = "--port", description = "Server port (default: from $TESSERA_ADDR, else 8080).")
    @Nullable Integer port;

    @Option(names = {"-p", "--prompt"}, required = true, description = "What to draw.")
    String prompt;

    @Option(names = "--negative-prompt", defaultValue = "", description = "What to steer away from.")
    String negativePrompt;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE",
            description = "Where to write the image (PNG); image i > 0 of --num-images goes to FILE-i.png.")
    Path out;

    @Option(names = "--model", defaultValue = "", description = "Diffusion model; empty = the server's default.")
    String model;

    @Option(names = "--steps", description = "Denoising steps (1..200); unset = the server's (25).")
    @Nullable Integer steps;

    @Option(names = "--sampler", description = "euler, euler_a, ddim, dpmpp_2m or lcm; unset = the server's (euler).")
    @Nullable String sampler;

    @Option(names = "--guidance", description = "Classifier-free guidance scale; 0 or 1 disables it; unset = 7.5.")
    @Nullable Float guidance;

    @Option(names = "--seed", description = "Seed of the noise; unset = random (the seed used is printed).")
    @Nullable Long seed;

    @Option(names = "--width", description = "Width in pixels, a multiple of 8; unset = the model's.")
    @Nullable Integer width;

    @Option(names = "--height", description = "Height in pixels, a multiple of 8; unset = the model's.")
    @Nullable Integer height;

    @Option(names = "--num-images", defaultValue = "1", description = "Images (1..8) (default: ${DEFAULT-VALUE}).")
    int numImages;

    @Option(names = "--init-image", paramLabel = "FILE",
            description = "Image-to-image: start from this PNG or JPEG (the output has its size).")
    @Nullable Path initImage;

    @Option(names = "--strength", description = "Image-to-image: how much of --init-image to redo, in (0, 1]; "
            + "unset = 0.8.")
    @Nullable Float strength;

    @Option(names = "--control-image", paramLabel = "FILE",
            description = "ControlNet: condition on this PNG or JPEG (edges, depth, pose...; resized to the output); "
                    + "the model needs a ControlNet (builtin:sd-tiny has one).")
    @Nullable Path controlImage;

    @Option(names = "--control-scale", description = "ControlNet: conditioning scale, >= 0; unset = 1.")
    @Nullable Float controlScale;

    @Option(names = "--previews", paramLabel = "DIR", description = "Also save each preview as DIR/step-NNN-I.jpg.")
    @Nullable Path previews;

    @Option(names = "--timeout", defaultValue = "600", description = "Deadline in seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        DiffuseRequest.Builder r = DiffuseRequest.newBuilder().setModel(model).setPrompt(prompt)
                .setNegativePrompt(negativePrompt).setNumImages(numImages).setPreviewEvery(1);
        if (steps != null) r.setSteps(steps);
        if (guidance != null) r.setGuidanceScale(guidance);
        if (seed != null) r.setSeed(seed);
        if (width != null) r.setWidth(width);
        if (height != null) r.setHeight(height);
        if (initImage != null) {
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(initImage);
            } catch (IOException e) {
                System.err.println("error: cannot read --init-image " + initImage + ": " + e);
                return 2;
            }
            r.setInitImage(Image.newBuilder().setData(ByteString.copyFrom(bytes)));
        }
        if (strength != null) r.setStrength(strength);
        if (controlImage != null) {
            try {
                r.setControlImage(Image.newBuilder().setData(ByteString.copyFrom(Files.readAllBytes(controlImage))));
            } catch (IOException e) {
                System.err.println("error: cannot read --control-image " + controlImage + ": " + e);
                return 2;
            }
        }
        if (controlScale != null) r.setControlScale(controlScale);
        if (sampler != null) {
            Sampler s = SAMPLERS.get(sampler.toLowerCase(Locale.ROOT));
            if (s == null) {
                System.err.println("error: --sampler " + sampler + ": one of " + SAMPLERS.keySet());
                return 2;
            }
            r.setSampler(s);
        }
        if (previews != null) Files.createDirectories(previews);
        GenerateCommand.Address at = GenerateCommand.Address.of(host, port);
        ManagedChannel channel = NettyChannelBuilder.forAddress(at.host(), at.port()).usePlaintext().build();
        long start = System.nanoTime();
        int written = 0;
        int total = 0;
        try {
            Iterator<DiffuseResponse> it = InferenceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS).diffuse(r.build());
            while (it.hasNext()) {
                DiffuseResponse e = it.next();
                if (e.hasPreview()) {
                    var p = e.getPreview();
                    total = p.getTotalSteps();
                    progress(p.getStep(), total);
                    if (previews != null) {
                        Files.write(previews.resolve(String.format("step-%03d-%d.jpg", p.getStep(), p.getIndex())),
                                p.getImage().getData().toByteArray());
                    }
                } else if (e.hasImage()) {
                    GeneratedImage img = e.getImage();
                    if (total > 0) progress(total, total);
                    Path file = target(img.getIndex());
                    Files.write(file, img.getImage().getData().toByteArray());
                    written++;
                    System.err.printf("%nwrote %s (%dx%d, seed %s, %.0f ms)%n", file, img.getImage().getWidth(),
                            img.getImage().getHeight(), Long.toUnsignedString(img.getSeed()),
                            (System.nanoTime() - start) / 1e6);
                }
            }
        } catch (StatusRuntimeException e) {
            System.err.println();
            System.err.println("error: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
                    + (GenerateCommand.nothingAnswered(e) ? " (is a server running at " + at + "? start one with "
                    + "'bin/engine serve', or point " + GenerateCommand.ADDRESS_ENV + " or --host/--port at it)"
                    : ""));
            return 2;
        } catch (IOException e) {
            System.err.println("error: cannot write: " + e);
            return 1;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        return written == numImages ? 0 : 1;
    }

    private Path target(int index) {
        if (index == 0) return out;
        String name = out.getFileName().toString();
        String stem = name.toLowerCase(Locale.ROOT).endsWith(".png") ? name.substring(0, name.length() - 4) : name;
        return out.resolveSibling(stem + "-" + index + ".png");
    }

    private static void progress(int step, int total) {
        int filled = total == 0 ? BAR : step * BAR / total;
        System.err.print("\r[" + "#".repeat(filled) + " ".repeat(BAR - filled) + "] " + step + "/" + total);
    }
}
