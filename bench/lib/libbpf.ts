// Minimal koffi bindings to libbpf.so.1 for the bench's own BPF programs (load generator and
// the empty netfilter baseline). The project's datapath has its own loader in bpf/loader/;
// this file exists so the bench can run even before that lands.
import koffi from 'koffi';

const lib = koffi.load('libbpf.so.1');

const TestRunOpts = koffi.struct('bench_bpf_test_run_opts', {
  sz: 'size_t',
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

const objectOpenFile = lib.func('void *bpf_object__open_file(const char *path, void *opts)');
const objectLoad = lib.func('int bpf_object__load(void *obj)');
const objectClose = lib.func('void bpf_object__close(void *obj)');
const findProgram = lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)');
const programFd = lib.func('int bpf_program__fd(void *prog)');
const programSetType = lib.func('int bpf_program__set_type(void *prog, int type)');
const programSetAttach = lib.func('int bpf_program__set_expected_attach_type(void *prog, int type)');
const findMap = lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)');
const mapFd = lib.func('int bpf_map__fd(void *map)');
const mapUpdateElem = lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)');
const libbpfGetError = lib.func('long libbpf_get_error(void *ptr)');
const testRunOpts = lib.func('int bpf_prog_test_run_opts(int fd, _Inout_ bench_bpf_test_run_opts *opts)');

/** enum bpf_prog_type values the bench needs (uapi; BPF_PROG_TYPE_NETFILTER is 6.4+). */
export const PROG_TYPE_NETFILTER = 32;
/** enum bpf_attach_type BPF_NETFILTER, which the verifier requires of netfilter programs. */
export const ATTACH_NETFILTER = 45;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;

export class BpfObject {
  private constructor(private obj: unknown) {}

  /** Opens and loads `path`; `types` overrides program types libbpf 1.1 cannot infer. */
  static load(path: string, types: Record<string, [progType: number, attachType: number]> = {}): BpfObject {
    const obj = objectOpenFile(path, null);
    if (!obj || libbpfGetError(obj) !== 0) throw new Error(`bench: opening BPF object ${path} failed (errno ${-Number(libbpfGetError(obj))})`);
    for (const [name, [type, attach]] of Object.entries(types)) {
      const prog = findProgram(obj, name);
      if (!prog) throw new Error(`bench: program ${name} not in ${path}`);
      programSetType(prog, type);
      programSetAttach(prog, attach);
    }
    const rc = objectLoad(obj);
    if (rc !== 0) {
      objectClose(obj);
      throw new Error(`bench: loading BPF object ${path} failed (errno ${-rc}; needs root and a kernel with the program types used)`);
    }
    return new BpfObject(obj);
  }

  programFd(name: string): number {
    const prog = findProgram(this.obj, name);
    if (!prog) throw new Error(`bench: program ${name} not found`);
    return programFd(prog);
  }

  /** Writes `value` at `key` of array/hash map `name` (sizes must match the map's). */
  updateMap(name: string, key: Buffer, value: Buffer): void {
    const map = findMap(this.obj, name);
    if (!map) throw new Error(`bench: map ${name} not found`);
    const rc = mapUpdateElem(mapFd(map), key, value, 0);
    if (rc !== 0) throw new Error(`bench: updating map ${name} failed (errno ${-rc})`);
  }

  close(): void {
    if (this.obj) objectClose(this.obj);
    this.obj = null;
  }
}

export interface TestRunArgs {
  data: Buffer;
  ctx?: Buffer;
  repeat: number;
  flags?: number;
  batchSize?: number;
}

export interface TestRunResult {
  rc: number;
  retval: number;
  /** Average ns per repetition as the kernel reports it. */
  duration: number;
}

export function testRun(fd: number, a: TestRunArgs): TestRunResult {
  const opts = {
    sz: koffi.sizeof(TestRunOpts),
    data_in: a.data,
    data_out: null,
    data_size_in: a.data.length,
    data_size_out: 0,
    ctx_in: a.ctx ?? null,
    ctx_out: null,
    ctx_size_in: a.ctx?.length ?? 0,
    ctx_size_out: 0,
    retval: 0,
    repeat: a.repeat,
    duration: 0,
    flags: a.flags ?? 0,
    cpu: 0,
    batch_size: a.batchSize ?? 0,
  };
  const rc = testRunOpts(fd, opts);
  return { rc, retval: opts.retval, duration: opts.duration };
}

