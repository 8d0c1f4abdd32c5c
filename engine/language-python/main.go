// pulumi-language-python: a minimal Python language host for the Pulumi engine, written for llmstack.
//
// Why this exists: the upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
// is refused by the Go module proxy this project can reach, while github.com/pulumi/pulumi/sdk/v3 is served.
// The heavy lifting of a Python host lives in two served places: the `pulumi-language-python-exec` script of
// the sdk/v3 module zip (it configures the Python SDK and runs the program) and the sdk's python/toolchain
// package (it finds the virtualenv's python). This host only glues them to the engine's gRPC protocol.
//
// It also runs Python policy packs (`pulumi preview --policy-pack DIR`, RunPlugin below).
//
// What it does NOT do (upstream does): install dependencies (`pulumi install`), prompt for runtime options
// (`pulumi new`), generate programs (`pulumi convert`), type-check, compute the plugins a program needs
// (GetRequiredPackages answers "none": plugins come from PATH, with automatic plugin acquisition off), or run
// plugins other than policy packs (Python resource providers from a PulumiPlugin.yaml).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The exec script's exit code for "an error was already shown to the user" (see the script).
const bailExitCode = 32

const execScriptName = "pulumi-language-python-exec"

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	// The engine starts language hosts as `pulumi-language-python <engine address>` and reads the port we
	// listen on from the first line of our stdout.
	engineAddress := ""
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") { // tolerate flags older engines pass (-root=, -virtualenv=, …)
			engineAddress = a
		}
	}
	h := &host{engineAddress: engineAddress}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

// pythonToolchain resolves the python to run from Pulumi.yaml's runtime options (virtualenv, toolchain), as
// the upstream host does, through the sdk's own toolchain package.
func pythonToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Toolchain: toolchain.Pip}
	if info != nil {
		opts.Root = info.GetRootDirectory()
		opts.ProgramDir = info.GetProgramDirectory()
		fields := info.GetOptions().GetFields()
		if v, ok := fields["virtualenv"]; ok {
			opts.Virtualenv = v.GetStringValue()
		}
		if v, ok := fields["toolchain"]; ok {
			switch v.GetStringValue() {
			case "", "pip":
			case "uv":
				opts.Toolchain = toolchain.Uv
			case "poetry":
				opts.Toolchain = toolchain.Poetry
			default:
				return nil, fmt.Errorf("unsupported python toolchain %q", v.GetStringValue())
			}
		}
	}
	return toolchain.ResolveToolchain(opts)
}

// execScript is looked up beside this binary, where `make engine` installs it (as upstream releases ship it).
func execScript() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	p := filepath.Join(filepath.Dir(self), execScriptName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("missing executor %s beside %s: %w", execScriptName, self, err)
	}
	return p, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// Handshake is optional for the engine; answering it tells the engine the host supports the current protocol.
func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	script, err := execScript()
	if err != nil {
		return nil, err
	}
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}

	// The program: the entry point inside the program directory ("." for Python means its __main__.py).
	program := req.GetProgram()
	if info := req.GetInfo(); info != nil {
		program = filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	}
	rootDir := req.GetPwd()
	if info := req.GetInfo(); info != nil && info.GetRootDirectory() != "" {
		rootDir = info.GetRootDirectory()
	}

	args := []string{
		script,
		"--project", req.GetProject(),
		"--root_directory", rootDir,
		"--stack", req.GetStack(),
		"--pwd", req.GetPwd(),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engineAddress,
		"--organization", req.GetOrganization(),
		program,
	}
	args = append(args, req.GetArgs()...)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}

	// The Python SDK reads the stack's config and the names of its secret keys from these variables.
	// A nil map would marshal to `null`, which the SDK rejects: an empty stack config is `{}`.
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.GetConfigSecretKeys()...))
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	// The engine forwards our stdout/stderr (after the port line) to the user as diagnostics.
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("python program exited with %v", exitErr)}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
	}, nil
}

func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := pythonToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// RunPlugin starts a Python policy pack for the engine, which asks for it (kind "analyzer") when a
// PulumiPolicy.yaml says `runtime: python`. The pack runs as `<python> -u -m pulumi.policy <args> <pack dir>`:
// the pulumi SDK's policy shim (what pulumi-policy packs are written for) takes the engine address from the
// args, then runs the pack's __main__.py, which serves the Analyzer protocol and prints its port. -u because
// pulumi-policy writes that port line without flushing, and the engine waits for it. The python is the one
// the pack's own runtime options name (its virtualenv, relative to the pack), resolved as for programs.
// Its stdout and stderr stream back to the engine, which reads the port and shows the rest; when the engine
// is done with the pack it cancels the call, which kills the process (exec.CommandContext).
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	if req.GetKind() != "analyzer" {
		return status.Errorf(codes.Unimplemented,
			"llmstack's python host runs policy packs only, not %q plugins", req.GetKind())
	}
	info := req.GetInfo()
	if info == nil || info.GetProgramDirectory() == "" {
		return status.Error(codes.InvalidArgument, "RunPlugin needs the policy pack's directory (info)")
	}
	tc, err := pythonToolchain(info)
	if err != nil {
		return err
	}
	packDir := info.GetProgramDirectory()
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	cmd, err := tc.Command(server.Context(), append(args, packDir)...)
	if err != nil {
		return err
	}
	// The pack runs in its own directory, as packs always have. The request's environment comes after the
	// toolchain's (its virtualenv activation), so what the engine passes wins, as in the upstream host.
	cmd.Dir = packDir
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not start the policy pack's python: %w", err)
		}
		// The engine shows the exit code (and the stderr it already got) if the pack dies before serving.
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exitErr.ExitCode())},
		})
	}
	return closer.Close()
}

// InstallDependencies: `pulumi install` is not this project's path (`make venv` installs the hash-locked
// requirements); say so instead of pretending.
func (h *host) InstallDependencies(
	*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return status.Error(codes.Unimplemented, "llmstack's python host does not install dependencies: run `make venv`")
}
