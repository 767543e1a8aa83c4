import pytest
import torch

from fsqtok.runtime import dense
from fsqtok.runtime.dense import Dense, onednn_is_faster, onednn_linear
from fsqtok.runtime.device import resolve_device
from fsqtok.runtime.losses import token_nll
from fsqtok.runtime.precision import autocast, cpu_has_native_bf16, uses_bf16

EPYC_ZEN4 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\nbogomips\t: 4800\n"
OLD_XEON = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512bw\n"
SAPPHIRE = "flags\t\t: avx512f amx_bf16 amx_tile\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(EPYC_ZEN4, True), (SAPPHIRE, True), (OLD_XEON, False), ("", False)])
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, native):
    assert cpu_has_native_bf16(cpuinfo) is native


def test_precision_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert uses_bf16(cuda, "auto") and uses_bf16(cpu, "bf16")
    assert not uses_bf16(cuda, "fp32") and not uses_bf16(cpu, "fp32")



@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_on_cpu_follows_the_cpu(monkeypatch, native):
    monkeypatch.setattr("fsqtok.runtime.precision.cpu_has_native_bf16", lambda: native)
    assert uses_bf16(torch.device("cpu"), "auto") is native


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_autocast_sets_the_matmul_dtype(precision, dtype):
    layer = torch.nn.Linear(4, 4)
    with autocast(torch.device("cpu"), precision):
        assert layer(torch.ones(2, 4)).dtype == dtype


def test_cpu_maths_flushes_subnormals_once_a_device_is_resolved():
    resolve_device("cpu")
    assert (torch.tensor([1e-30]) * torch.tensor([1e-10])).item() == 0.0  # 1e-40 is subnormal in fp32
    assert (torch.tensor([1e-20]) * torch.tensor([1e-10])).item() == pytest.approx(1e-30)


def test_set_threads_flushes_subnormals_on_every_thread_of_the_pool():
    """In a fresh process: set_threads first (as every stage does), then an op split over two
    threads; subnormal operands give zeros on both halves, not 1.5e-39 on the worker's."""
    import subprocess
    import sys

    probe = ("import torch\nfrom fsqtok.runtime.device import set_threads\nset_threads(2)\n"
             "x = torch.full((1 << 22,), 1e-39)\nz = x * 0.5 + x\nprint(int((z != 0).sum()))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"


def test_token_nll_has_cross_entropys_values_and_gradient_and_refuses_a_second_backward():
    torch.manual_seed(0)
    logits = (torch.randn(50, 300) * 4).requires_grad_()
    targets = torch.randint(0, 300, (50,))
    weights = torch.rand(50)  # an incoming gradient that differs per row, as a loss mask gives
    expected = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    (want,) = torch.autograd.grad((expected * weights).sum(), logits)
    nll = token_nll(logits, targets)
    assert torch.allclose(nll, expected, atol=1e-6)
    (got,) = torch.autograd.grad((nll * weights).sum(), logits, retain_graph=True)
    # rtol: this VM's exp in a backward has been seen 1e-4 off (relative) on one thread's rows, now and then
    assert torch.allclose(got, want, rtol=1e-3, atol=1e-6)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(nll.sum(), logits)
    half = token_nll(logits.bfloat16(), targets)  # bf16 logits (autocast's) are scored in fp32
    assert half.dtype == torch.float32


def test_onednn_linear_is_f_linear_forward_and_backward():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 64, requires_grad=True)  # (..., K): leading dims fold into rows
    weight, bias = torch.randn(48, 64, requires_grad=True), torch.randn(48, requires_grad=True)
    out, reference = onednn_linear(x, weight, bias), torch.nn.functional.linear(x, weight, bias)
    assert out.shape == (3, 5, 48) and out.is_contiguous() and torch.allclose(out, reference, atol=1e-4)
    grad = torch.randn_like(out)
    for got, want in zip(torch.autograd.grad(out, (x, weight, bias), grad),
                         torch.autograd.grad(reference, (x, weight, bias), grad), strict=True):
        assert torch.allclose(got, want, atol=1e-3, rtol=1e-4)
    assert torch.allclose(onednn_linear(x[0, :1], weight), torch.nn.functional.linear(x[0, :1], weight), atol=1e-4)


def test_onednn_route_only_on_amd_with_avx512_above_the_reference_kernels_size(monkeypatch):
    amd, intel = "vendor_id\t: AuthenticAMD\nflags\t: avx2", "vendor_id\t: GenuineIntel\nflags\t: avx2"
    assert not onednn_is_faster.__wrapped__(intel)
    with_avx512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    assert onednn_is_faster.__wrapped__(amd) == with_avx512  # ATEN_CPU_CAPABILITY=avx2 turns it off too
    layer = Dense(64, 8)
    assert torch.equal(layer(torch.zeros(0, 64)), torch.zeros(0, 8))  # no rows: F.linear
    monkeypatch.setattr(dense, "onednn_is_faster", lambda: True)
    most = dense.MAX_REFERENCE_CONV_VALUES // 64  # rows of 64 values that stay with F.linear
    for rows, through_onednn in ((most, False), (most + 1, True)):
        with torch.profiler.profile() as profile:
            layer(torch.randn(rows, 64))
        ops = {event.key for event in profile.key_averages()}
        assert ("aten::conv2d" in ops) == through_onednn and not any("slow_conv" in op for op in ops)
    assert list(layer.state_dict()) == ["weight", "bias"]  # nn.Linear's keys: bundles load either way
