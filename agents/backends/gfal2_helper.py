#!/usr/bin/python3
"""couchstage gfal2 helper: one NDJSON request per stdin line -> one NDJSON response line on stdout.

Requests: {op:'copy', id, files:[{source, destination, adler32, size?}], mode:'stream'|'tpc', overwrite, timeout}
          {op:'remove', id, urls}  {op:'stat', id, urls, checksum}  {op:'ping', id}
Must run under /usr/bin/python3 (the Debian python that has the gfal2 binding).

Why a fork per request ("zygote"): gfal2 2.21.3's xrootd bulk copy segfaults whenever a file at index >= 1
fails (gfal_xrootd_copy_cleanup gets file_errors[i] instead of &(*file_errors)[i]), and XrdCl 5.5 corrupts
its heap now and then (~1 in 100 bulk batches of 200 files here). So this process only imports gfal2 and
loads its plugins, and every gfal2 operation runs in a forked child: a crash costs one child, and the files
it left unfinished are redone one per gfal2 call, where a failure raises a GError instead of crashing.

Stream mode between two root:// URLs: gfal2 2.21's filecopy always asks XRootD for third-party copy there,
so the helper streams itself with gfal2's file API (open/read_bytes/write), computing adler32 on the bytes
as they pass, then compares it with the expected value and with the destination's server-side checksum.
One read and one write of the bytes, like xrdcp; spread over STREAM_CHILDREN children of STREAM_THREADS
threads each (one gfal2 context per thread: XrdCl then serves many requests per wake-up of its event
loop, where forked children each pay their own; measured 1.4 ms/file with 8 threads vs 2.2 with 4
single-threaded children, and less CPU per file).
"""
import ctypes, errno, glob, json, locale, os, re, selectors, signal, stat, sys, threading, time, zlib

# XrdCl reads these once, when first used, so they are set before gfal2 is imported. Each value can be
# overridden from the environment (the TS side sets them too). See agents/backends/gfal2.ts for the numbers.
for _k, _v in {'XRD_CONNECTIONRETRY': '1', 'XRD_CONNECTIONWINDOW': '3', 'XRD_REQUESTTIMEOUT': '10',
               'XRD_STREAMTIMEOUT': '10', 'XRD_TIMEOUTRESOLUTION': '1', 'XRD_RUNFORKHANDLER': '1'}.items():
    os.environ.setdefault(_k, _v)

def only_needed_plugins():
    """gfal2 asks every loaded plugin whether it handles a URL, on every call: the srm and dcap plugins run a
    regex each time, and the file plugin compiles one. This helper serves root:// and file:// only, so it
    loads only those plugins (COUCHSTAGE_GFAL2_PLUGINS, default 'xrootd,file'), through a directory of
    symlinks to the system's plugins. An operator's own GFAL_PLUGIN_DIR is left alone."""
    if os.environ.get('GFAL_PLUGIN_DIR'):
        return
    names = [n.strip() for n in os.environ.get('COUCHSTAGE_GFAL2_PLUGINS', 'xrootd,file').split(',') if n.strip()]
    found = sorted(glob.glob('/usr/lib*/gfal2-plugins') + glob.glob('/usr/lib*/*/gfal2-plugins'))
    libs = [os.path.join(found[0], 'libgfal_plugin_%s.so' % n) for n in names] if found else []
    if not libs or not all(os.path.exists(l) for l in libs):
        return  # an unusual install: keep gfal2's own default, which loads everything
    d = os.path.join('/tmp', 'couchstage-gfal2-plugins-%d-%s' % (os.getuid(), '-'.join(names)))
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.lstat(d)
        # gfal2 loads every library in that directory: it must be ours and closed to everyone else
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return
        if st.st_mode & 0o077:
            os.chmod(d, 0o700)
        wanted = {os.path.basename(l): l for l in libs}
        for name in os.listdir(d):
            link = os.path.join(d, name)
            if name not in wanted or os.path.realpath(link) != os.path.realpath(wanted[name]):
                os.unlink(link)
        for name, l in wanted.items():
            try:
                os.symlink(l, os.path.join(d, name))
            except FileExistsError:  # already there, or another helper starting at the same time
                pass
    except OSError:
        return
    os.environ['GFAL_PLUGIN_DIR'] = d

only_needed_plugins()
# The file plugin compiles a URL regex on every call; in a UTF-8 locale glibc's regcomp converts every
# character (mbrtowc). URLs here are ASCII, so the byte locale is exact and cheaper.
locale.setlocale(locale.LC_CTYPE, 'C')
try:
    import gfal2
    IMPORT_ERROR = None
except Exception as e:  # reported by every request, so the TS side fails loudly instead of hanging
    gfal2, IMPORT_ERROR = None, 'cannot import gfal2 under %s: %r' % (sys.executable, e)

# >20 parallel jobs crashes the binding; 16 measured as fast as 20 for small files.
PARALLEL = max(1, min(20, int(os.environ.get('COUCHSTAGE_GFAL2_PARALLEL', '16'))))
FALLBACK_CHILDREN = 4      # per-file mode costs ~7 ms/file per child; 4 children is 2 cores x 2 (I/O bound)
STREAM_CHILDREN = max(1, int(os.environ.get('COUCHSTAGE_GFAL2_STREAMS', '2')))
STREAM_THREADS = max(1, min(64, int(os.environ.get('COUCHSTAGE_GFAL2_STREAM_THREADS', '8'))))  # per child
STREAM_CHUNK = 16 << 20    # 16 MiB reads: 233 MB/s root->root on loopback (4 MiB: 197 MB/s)
KILL_GRACE = 30            # seconds past a request's own timeout before its child is killed
CONN_ERRNOS = {errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET,
               errno.ECOMM, errno.EHOSTDOWN}
HEX8 = re.compile(r'^[0-9a-f]{8}$')
ROOT = ('root://', 'xroot://')
PARENT = os.getpid()
PROTO_FD = -1
LOCAL = threading.local()  # one gfal2 context per thread: a context is not shared across threads

def context():
    ctx = getattr(LOCAL, 'ctx', None)
    if ctx is None:
        ctx = LOCAL.ctx = gfal2.creat_context()
        ctx.set_opt_integer('XROOTD PLUGIN', 'PARALLEL_COPIES', PARALLEL)
        # Core timeouts, for plugins that honour them (the xrootd plugin only reads the XRD_* variables):
        # a namespace call answers in milliseconds, 30 s means a stuck SE; a server-side checksum of a
        # several-GB file at ~100 MB/s takes tens of seconds, 300 s leaves room for big outputs.
        ctx.set_opt_integer('CORE', 'NAMESPACE_TIMEOUT', 30)
        ctx.set_opt_integer('CORE', 'CHECKSUM_TIMEOUT', 300)
    return ctx

def endpoint(url):  # 'root://host:port', or None for file:// URLs
    return (re.match(r'^(x?root://[^/]+)', url) or [None, None])[1]

def local_path(url):
    return url[7:] if url.startswith('file://') else None

# A URL's path after scheme://authority, leading slashes folded (root://host//abs/path): plain
# segments only. gfal2 and XrdCl would read '?' as CGI, '#' as a fragment, and '%2e%2e' or '..'
# as a step up; the TS side refuses these too, this keeps the helper safe on its own.
URL_RE = re.compile(r'^[a-z][a-z0-9+.-]*://([^/?#]*)(.*)$', re.S)
UNCLEAN_RE = re.compile(r'[%?#\\\x00-\x1f\x7f-\x9f\s]')

def unclean_url(url):
    m = URL_RE.match(url) if isinstance(url, str) else None
    if not m:
        return 'invalid URL %r: expected scheme://host/path' % (url,)
    path = re.sub(r'^/+', '/', m.group(2))
    if not path.startswith('/') or UNCLEAN_RE.search(path) or path.endswith('/') or \
            any(s in ('', '.', '..') for s in path[1:].split('/')):
        return 'invalid URL %r: not a clean absolute path (no %% ? # \\ // . .. or control characters)' % (url,)
    return None

def fail(i, code, message, side=None):  # one file's failure; the TS side classifies it (errors.ts)
    return {'i': i, 'ok': False, 'errno': code, 'error': message, 'side': side}

def side_of(message, default=None):  # XrdCl suffixes its errors with "(source)" or "(destination)"
    return next((k for k in ('source', 'destination') if '(%s)' % k in message.lower()), default)

def params(overwrite, timeout, checksum=None):
    p = context().transfer_parameters()
    p.overwrite, p.create_parent, p.timeout = bool(overwrite), True, int(timeout)
    p.set_checksum(gfal2.checksum_mode.both, 'adler32', checksum or '')
    return p

def describe_error(i, f, code, message, default_side, src=None):
    if code == errno.EILSEQ or 'checksum' in message.lower():
        try:
            actual = context().checksum(src or f['source'], 'adler32').lower().zfill(8)
        except Exception as e:
            actual = 'unknown (%s)' % e
        where = 'source' if actual != f['adler32'] else 'destination'  # the source was fine: the copy was not
        return fail(i, code, 'checksum mismatch: expected %s, source has %s%s (%s)' % (
            f['adler32'], actual, '' if where == 'source' else ', destination differed', message), where)
    return fail(i, code, message, side_of(message, default_side))

def copy_one(pair, overwrite, timeout):
    """A single copy raises on failure, and takes its checksum from params."""
    try:
        context().filecopy(params(overwrite, timeout, pair[2]), pair[0], pair[1])
        return None
    except gfal2.GError as e:
        return (e.code, e.message)

def copy_pairs(pairs, overwrite, timeout, local=False):
    """pairs: [(src, dst, adler32)] -> [None | (errno, message)]. One gfal2 bulk call when len > 1, except
    when local (every pair file:// -> file://): no plugin copies those in bulk, and gfal2 2.21.3's fallback
    for that copies one byte short of the type in 'adler32:<hex>' (g_strlcpy given the type's length as
    the buffer size: "Checksum type adler3 not supported for local files"). A bare '<hex>' is no way out:
    the binding keeps c_str() pointers into a std::vector<std::string> it goes on growing, so an 8-char
    value (short-string storage, inside the vector) dangles -- measured as empty or garbage expected
    checksums. The 16-char 'adler32:<hex>' lives on the heap and survives. Local pairs: one call each."""
    if not pairs:
        return []
    if len(pairs) == 1 or local:
        return [copy_one(p, overwrite, timeout) for p in pairs]
    try:
        errs = context().filecopy(params(overwrite, timeout), [p[0] for p in pairs], [p[1] for p in pairs],
                                  ['adler32:' + p[2] for p in pairs])
        return [None if e is None else (e.code, e.message) for e in errs]
    except gfal2.GError as e:
        return [(e.code, e.message)] * len(pairs)

def is_stream(f, mode):
    """root->root in stream mode: gfal2 2.21 always uses third-party copy between two root:// URLs (the
    plugin sets thirdParty=only and has no option against it), so these are streamed by stream_copy."""
    return mode != 'tpc' and f['source'].startswith(ROOT) and f['destination'].startswith(ROOT)

def parent_url(url):
    return url.rsplit('/', 1)[0]

def stream_copy(i, f, overwrite, made):
    """One root->root copy through this process: read the source, adler32 on the fly, write the destination,
    then compare with the expected checksum and the destination's own. Returns a result line."""
    t0, c, src, dst = time.time(), context(), f['source'], f['destination']
    side = 'source'
    try:
        fi = c.open(src, 'r')
        side = 'destination'
        if not overwrite:
            try:
                c.stat(dst)
                return fail(i, errno.EEXIST, 'destination exists and overwrite is off: %s (destination)' % dst,
                            'destination')
            except gfal2.GError as e:
                if e.code != errno.ENOENT:
                    raise
        d = parent_url(dst)
        if d not in made:
            try:
                c.mkdir_rec(d, 0o755)
            except gfal2.GError as e:
                if e.code != errno.EEXIST:  # another thread made it first
                    raise
            made.add(d)
        fo = c.open(dst, 'w')
        a, n = 1, 0
        # read_bytes allocates the length asked for: a 16 MiB buffer for a 4 KiB file costs 1.5 ms.
        # The expected size + 1 (a hint; the checksum decides) makes the first read short, so it ends.
        chunk = min(STREAM_CHUNK, f['size'] + 1) if isinstance(f.get('size'), int) and f['size'] >= 0 else STREAM_CHUNK
        while True:
            side = 'source'
            b = fi.read_bytes(chunk)
            if not b:
                break
            side = 'destination'
            a = zlib.adler32(b, a)
            fo.write(b)
            n += len(b)
            if len(b) < chunk:  # a short read is the end here (XrdCl reads whole ranges); saves a round
                break           # trip per file, and a truncated copy would fail the checksum
            chunk = STREAM_CHUNK
        side = 'destination'
        del fo, fi  # closes both; a failed close raises here
        got = '%08x' % (a & 0xffffffff)
        if got != f['adler32']:
            unlink_quietly(dst)
            return fail(i, errno.EILSEQ, 'checksum mismatch: expected %s, source has %s (source)' % (
                f['adler32'], got), 'source')
        remote = c.checksum(dst, 'adler32').lower().zfill(8)
        if remote != got:
            unlink_quietly(dst)
            return fail(i, errno.EILSEQ, 'checksum mismatch: expected %s, source has %s, destination differed (%s)' % (
                f['adler32'], got, remote), 'destination')
        return {'i': i, 'ok': True, 'adler32': got, 'bytes': n, 'seconds': round(time.time() - t0, 4)}
    except gfal2.GError as e:
        if side == 'destination':
            unlink_quietly(dst)
        return fail(i, e.code, '%s (%s)' % (e.message, side), side)

def unlink_quietly(url):
    try:
        context().unlink(url)
    except Exception:
        pass

def stream_all(emit, files, idx, overwrite):
    """Streams files[idx] on up to STREAM_THREADS threads, each with its own gfal2 context, one result line
    per file. An exception other than a GError (a bug) stops every thread and is raised here: the child
    then exits non-zero, and the files it did not report are redone one per call, like after a crash."""
    made, lock, todo, failure = set(), threading.Lock(), list(reversed(idx)), []
    def emit_locked(o):
        with lock:
            emit(o)
    def worker():
        try:
            while not failure:
                with lock:
                    if not todo:
                        return
                    i = todo.pop()
                emit_locked(stream_copy(i, files[i], overwrite, made))
        except BaseException as e:
            failure.append(e)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(STREAM_THREADS, len(idx)) - 1)]
    for t in threads:
        t.start()
    worker()  # this thread is one of them (it already has a context: fork keeps the helper's)
    for t in threads:
        t.join()
    if failure:
        raise failure[0]

def copy_group(emit, files, idx, mode, overwrite, timeout):
    """Copies files[idx] (one gfal2 bulk call, or one stream each) and emits one result line per file."""
    t0 = time.time()
    c = context()
    stream_all(emit, files, [i for i in idx if is_stream(files[i], mode)], overwrite)
    direct = [i for i in idx if not is_stream(files[i], mode)]
    # gfal2 picks the bulk copier from the first pair alone: local pairs go in a call of their own
    is_local = lambda i: local_path(files[i]['source']) is not None and local_path(files[i]['destination']) is not None
    jobs, errs = [], []
    for both_local in (True, False):
        part = [(i, files[i]['source'], files[i]['adler32']) for i in direct if is_local(i) == both_local]
        jobs += part
        errs += copy_pairs([(s, files[i]['destination'], a) for i, s, a in part], overwrite, timeout, both_local)
    for (i, src, a), e in zip(jobs, errs):
        f = files[i]
        if e:
            emit(describe_error(i, f, e[0], e[1], 'destination', src))
            continue
        local = [p for p in (local_path(src), local_path(f['destination'])) if p and os.path.exists(p)]
        try:  # a TPC has no local end: one stat (~1 ms) against a copy of seconds
            size = os.path.getsize(local[0]) if local else c.stat(f['destination']).st_size
        except Exception:
            size = None
        emit({'i': i, 'ok': True, 'adler32': a, 'bytes': size, 'seconds': round(time.time() - t0, 4)})

def child_bulk(emit, files, idx, mode, overwrite, timeout):
    # A dead SE makes every one of its files fail, which would crash the bulk call (see top), and would cost
    # each streamed file a connection window: probe each endpoint once (~1 ms when up), fail its files here.
    dead = {}
    for ep in sorted({endpoint(files[i][k]) for i in idx for k in ('source', 'destination')} - {None}):
        try:
            context().stat(ep + '//')
        except gfal2.GError as e:
            if e.code in CONN_ERRNOS:
                dead[ep] = e
    ready = []
    for i in idx:
        k = next((k for k in ('source', 'destination') if endpoint(files[i][k]) in dead), None)
        if k:
            e = dead[endpoint(files[i][k])]
            emit(fail(i, e.code, '%s %s unreachable: %s' % (k, endpoint(files[i][k]), e.message), k))
        else:
            ready.append(i)
    copy_group(emit, files, ready, mode, overwrite, timeout)

def child_single(emit, files, idx, mode, overwrite, timeout):
    for i in idx:
        copy_group(emit, files, [i], mode, overwrite, timeout)

def run_children(tasks, deadline):
    """tasks: [(fn, args)]; each fn(emit, *args) runs in a forked child. Returns [(lines, status)]."""
    sel, out = selectors.DefaultSelector(), []
    for fn, args in tasks:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns
            code = 0
            try:
                os.close(r)
                os.close(PROTO_FD)  # only the helper itself answers on the protocol stream
                ctypes.CDLL('libc.so.6').prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the helper
                if os.getppid() != PARENT:
                    os._exit(99)
                stream = os.fdopen(w, 'w', buffering=1)
                fn(lambda o: stream.write(json.dumps(o) + '\n'), *args)
                stream.flush()
            except BaseException as e:
                sys.stderr.write('gfal2 helper child %d: %r\n' % (os.getpid(), e))
                code = 70
            os._exit(code)
        os.close(w)
        entry = {'pid': pid, 'lines': [], 'buf': b'', 'status': None}
        out.append(entry)
        sel.register(r, selectors.EVENT_READ, entry)
    while sel.get_map():
        for key in sel.get_map().values():  # past the deadline: kill, and keep what it reported so far
            if time.time() > deadline and key.data['status'] is None:
                os.kill(key.data['pid'], signal.SIGKILL)
                key.data['status'] = 'timeout'
        for key, _ in sel.select(timeout=1.0):
            e, data = key.data, os.read(key.fileobj, 1 << 16)
            if not data:
                sel.unregister(key.fileobj)
                os.close(key.fileobj)
                continue
            e['buf'] += data
            *complete, e['buf'] = e['buf'].split(b'\n')
            e['lines'] += [json.loads(x) for x in complete if x.strip()]
    for e in out:
        _, st = os.waitpid(e['pid'], 0)
        if e['status'] is None:
            e['status'] = ('signal %s' % signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st)
                           else 'exit %d' % os.WEXITSTATUS(st))
    return [(e['lines'], e['status']) for e in out]

def validate(f):
    for k in ('source', 'destination'):
        u = f.get(k)
        if not isinstance(u, str) or not u.startswith(ROOT + ('file://',)):
            return errno.EPROTONOSUPPORT, 'invalid URL or unsupported protocol for %s: %r' % (k, u), k
        if u.startswith('file://') and not u.startswith('file:///'):
            return errno.EINVAL, 'invalid URL for %s: file URLs must be file:///absolute/path' % k, k
        if unclean_url(u):
            return errno.EINVAL, '%s (%s)' % (unclean_url(u), k), k
    if not isinstance(f.get('adler32'), str) or not HEX8.match(f['adler32']):
        return errno.EINVAL, 'invalid adler32 %r: expected 8 lowercase hex digits' % f.get('adler32'), None
    p = local_path(f['source'])
    if p and not os.path.isfile(p):
        return errno.ENOENT, 'source does not exist: %s (source)' % p, 'source'
    return None

def op_copy(req):
    files, mode = req['files'], req.get('mode', 'stream')
    overwrite, timeout = req.get('overwrite', True), float(req.get('timeout', 600))
    deadline = time.time() + timeout + KILL_GRACE
    bad = [validate(f) if isinstance(f, dict) else (errno.EINVAL, 'file entry is not an object', None) for f in files]
    results, todo = [fail(i, *b) if b else None for i, b in enumerate(bad)], [i for i, b in enumerate(bad) if not b]
    info = {'bulk': None, 'fallback': []}
    if todo:
        streamed = [i for i in todo if is_stream(files[i], mode)]
        bulk = [i for i in todo if not is_stream(files[i], mode)]
        slices = [streamed[k::STREAM_CHILDREN] for k in range(min(STREAM_CHILDREN, len(streamed)))]
        tasks = ([(child_bulk, (files, bulk, mode, overwrite, timeout))] if bulk else []) + \
                [(child_bulk, (files, s, mode, overwrite, timeout)) for s in slices]
        done = run_children(tasks, deadline)
        info['bulk'] = done[0][1] if bulk else None
        info['streams'] = [status for _, status in done[1 if bulk else 0:]]
        for lines, _ in done:
            for o in lines: results[o['i']] = o  # noqa: E701
    todo = [i for i in todo if results[i] is None]
    while todo:  # the bulk child died: one gfal2 call per file, each child reporting file by file
        slices = [todo[k::FALLBACK_CHILDREN] for k in range(min(FALLBACK_CHILDREN, len(todo)))]
        done = run_children([(child_single, (files, s, mode, overwrite, timeout)) for s in slices], deadline)
        todo = []
        for s, (lines, status) in zip(slices, done):
            for o in lines: results[o['i']] = o  # noqa: E701
            rest = [i for i in s if results[i] is None]
            if not rest:
                continue
            info['fallback'].append(status)
            if status == 'timeout':
                for i in rest:
                    results[i] = fail(i, errno.ETIMEDOUT, 'copy timed out after %ds' % timeout)
            else:  # the first unreported file is the one the child died on; the others get another child
                results[rest[0]] = fail(rest[0], None, 'gfal2 crashed copying this file (%s)' % status)
                todo += rest[1:]
    return {'results': [dict(r, i=i) for i, r in enumerate(results)], **info}

def child_namespace(emit, op, urls, start, checksum):
    c = context()
    for i in range(start, len(urls)):
        u = urls[i]
        if unclean_url(u):
            emit(dict(fail(i, errno.EINVAL, unclean_url(u)), existed=False, exists=False))
            continue
        try:
            if op == 'remove':
                c.unlink(u)
                emit({'i': i, 'ok': True, 'existed': True})
            else:
                st = c.stat(u)
                r = {'i': i, 'exists': True, 'size': st.st_size}
                if checksum and not stat.S_ISDIR(st.st_mode):
                    r['adler32'] = c.checksum(u, 'adler32').lower().zfill(8)
                emit(r)
        except gfal2.GError as e:
            if e.code == errno.ENOENT:
                emit({'i': i, 'ok': True, 'existed': False} if op == 'remove' else {'i': i, 'exists': False})
            else:
                emit(dict(fail(i, e.code, e.message), existed=False, exists=False))

def op_namespace(req):
    urls, out, start = req['urls'], [], 0
    deadline = time.time() + float(req.get('timeout', 120)) + KILL_GRACE
    while start < len(urls):  # a crash loses only the URL being worked on
        lines, status = run_children([(child_namespace, (req['op'], urls, start, req.get('checksum')))],
                                     deadline)[0]
        out += lines
        start += len(lines)
        for i in range(start, len(urls) if status == 'timeout' else min(start + 1, len(urls))):
            out.append(dict(fail(i, None, 'gfal2 %s (%s)' % ('timed out' if status == 'timeout' else 'crashed', status)),
                            exists=False, existed=False))
        start = len(out)
    return {'results': out[:len(urls)]}

def handle(req):
    if not isinstance(req, dict):
        raise ValueError('request is not an object')
    op = req.get('op')
    if op == 'ping':
        return {'pid': os.getpid(), 'gfal2': gfal2.get_version() if gfal2 else None, 'error': IMPORT_ERROR}
    if IMPORT_ERROR:
        raise RuntimeError(IMPORT_ERROR)
    if op not in ('copy', 'remove', 'stat'):
        raise ValueError('unknown op %r' % op)
    context()  # created here, once, so that every child inherits loaded plugins
    return op_copy(req) if op == 'copy' else op_namespace(req)

def main():
    global PROTO_FD
    PROTO_FD = os.dup(1)
    proto = os.fdopen(PROTO_FD, 'w', buffering=1)
    os.dup2(2, 1)  # anything gfal2/XrdCl prints goes to stderr, never into the protocol stream
    for line in filter(str.strip, sys.stdin):
        rid = None
        try:  # bad input never kills the helper: it gets an error response
            req = json.loads(line)
            rid = req.get('id') if isinstance(req, dict) else None
            resp = dict(handle(req), id=rid, ok=True)
        except Exception as e:
            resp = {'id': rid, 'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
        proto.write(json.dumps(resp) + '\n')

if __name__ == '__main__':
    main()
