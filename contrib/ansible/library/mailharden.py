#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""Ansible module: harden a mail server's TLS with mailharden, self-test it,
roll it back.  Needs only the Python standard library on the target (and
Ansible's own module_utils, which Ansible ships with every module)."""

DOCUMENTATION = r'''
---
module: mailharden
short_description: Harden the TLS of Postfix/Dovecot with mailharden, prove it, undo it
description:
  - C(state=hardened) runs C(mailharden plan --json) to decide C(changed); in check mode
    it reports the change and the diff and writes nothing, otherwise it runs
    C(mailharden apply --json --yes) and returns the checkpoint id.  A second run with the
    same parameters is unchanged.
  - C(state=tested) runs C(mailharden selftest --json) and returns the findings; a
    critical finding fails the host.
  - C(state=rolled_back) restores a checkpoint (C(mailharden rollback)).
  - Every failure carries mailharden's own one-line error as C(msg).
options:
  binary:
    description: The mailharden program; default C(mailharden) on PATH (also /usr/sbin, /usr/local/bin).
    type: path
  state:
    description: hardened, tested or rolled_back.
    type: str
    default: hardened
    choices: [hardened, tested, rolled_back]
  root:
    description: Work on a copy of / under this directory (lab mode, C(--root)).
    type: path
  server:
    description: postfix, dovecot (or any server the installed mailharden knows). May come from answers_file.
    type: str
  roles:
    description: mx, submission, submissions, imap, imaps, pop3, pop3s.
    type: list
    elements: str
  profile:
    description: modern, intermediate, old (guide-a, guide-b). Default from answers_file, else intermediate.
    type: str
  cert:
    description: Certificate chain, as the server sees it.
    type: path
  key:
    description: Private key, as the server sees it.
    type: path
  dh:
    description: DH parameters file (profiles with DHE suites).
    type: path
  sasl:
    description: How submission authenticates (dovecot, cyrus, none); passed as C(--sasl).
    type: str
  answers_file:
    description:
      - A mailharden answers file (C(mailharden answers)); its servers, C(SERVER.roles),
        profile, cert, key, dh and sasl fill every parameter not given.  With several
        servers listed, each is hardened in turn.
    type: path
  reload:
    description: Reload the server after writing (never in lab mode).
    type: bool
    default: true
  host:
    description: state=tested, the host to test (default localhost).
    type: str
  ports:
    description: state=tested, ports as C(587) or C(10587/submission); default every port the configs serve.
    type: list
    elements: str
  cafile:
    description: state=tested, trust anchors instead of the system store.
    type: path
  fail_on_untested:
    description: state=tested, also fail when a port could not be tested (exit 3).
    type: bool
    default: false
  checkpoint:
    description: state=rolled_back, the checkpoint id (default the newest).
    type: str
'''

EXAMPLES = r'''
- name: Harden Postfix for MX and submission
  mailharden:
    server: postfix
    roles: [mx, submission, submissions]
    profile: intermediate
    cert: /etc/letsencrypt/live/mail.example.org/fullchain.pem
    key: /etc/letsencrypt/live/mail.example.org/privkey.pem
  register: harden

- name: Prove it
  mailharden:
    state: tested
    host: "{{ inventory_hostname }}"

- name: Undo it
  mailharden:
    state: rolled_back
    checkpoint: "{{ harden.checkpoint }}"
'''

RETURN = r'''
checkpoint:
  description: state=hardened, the checkpoint id of the apply (null when nothing changed).
  type: str
checkpoints:
  description: state=hardened, one per server hardened (several with an answers file).
  type: list
files:
  description: The files that change (plan) or changed (apply), with action and diff.
  type: list
notes:
  description: mailharden's remarks (e.g. SASL needed for submission).
  type: list
findings:
  description: state=tested, per port the findings (id, severity, text, fix).
  type: list
worst:
  description: state=tested, the worst severity found.
  type: str
exit_code:
  description: mailharden's exit code.
  type: int
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

SEVERITIES = ['ok', 'info', 'low', 'medium', 'high', 'critical']


def read_answers(path):
    """key = value lines; '#' comments; as mailharden reads them."""
    out = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#') or '=' not in line:
                continue
            k, v = line.split('=', 1)
            out[k.strip()] = v.strip()
    return out


def split_list(value):
    return [x.strip() for x in value.replace(' ', ',').split(',') if x.strip()]


def jobs_from(params):
    """One dict of plan/apply parameters per server."""
    answers = read_answers(params['answers_file']) if params['answers_file'] else {}
    servers = [params['server']] if params['server'] else split_list(answers.get('servers', ''))
    if not servers:
        raise ValueError('server is required (or an answers_file that lists servers)')
    jobs = []
    for server in servers:
        job = {'server': server}
        roles = params['roles'] or split_list(answers.get(server + '.roles', ''))
        if not roles:
            raise ValueError('roles are required for %s' % server)
        job['roles'] = roles
        job['profile'] = params['profile'] or answers.get('profile') or 'intermediate'
        for k in ('cert', 'key', 'dh', 'sasl'):
            v = params[k] if params[k] is not None else answers.get(k)
            # the answers file says "keep" / "none" for "leave as it is"
            if v and not (k == 'cert' and v == 'keep') and not (k == 'dh' and v == 'none'):
                job[k] = v
        jobs.append(job)
    return jobs


def common_args(params):
    return ['--root', params['root']] if params['root'] else []


def job_args(job):
    args = ['--server', job['server'], '--role', ','.join(job['roles']),
            '--profile', job['profile']]
    for k in ('cert', 'key', 'dh', 'sasl'):
        if k in job:
            args += ['--' + k, job[k]]
    return args


def one_line_error(doc, stderr, fallback):
    """mailharden's own one-line error: from the JSON, else stderr's last line."""
    if isinstance(doc, dict) and doc.get('error'):
        return doc['error']
    lines = [l for l in (stderr or '').splitlines() if l.strip()]
    for l in reversed(lines):
        if l.startswith('mailharden: error: '):
            return l[len('mailharden: error: '):]
    return lines[-1] if lines else fallback


class Runner(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.binary = p['binary'] or module.get_bin_path(
            'mailharden', required=True, opt_dirs=['/usr/sbin', '/usr/local/bin', '/usr/local/sbin'])

    def run(self, args):
        rc, out, err = self.module.run_command([self.binary] + args,
                                               environ_update={'NO_COLOR': '1'})
        return rc, out, err

    def run_json(self, args):
        rc, out, err = self.run(args)
        try:
            doc = json.loads(out) if out.strip() else None
        except ValueError:
            doc = None
        return rc, doc, err

    def fail(self, msg, **kw):
        self.module.fail_json(msg=msg, **kw)


def diff_text(files):
    return ''.join(f.get('diff', '') for f in files)


def harden(r, params, check_mode):
    try:
        jobs = jobs_from(params)
    except (ValueError, IOError, OSError) as e:
        r.fail(str(e))
    changed = False
    all_files, notes, checkpoints = [], [], []
    for job in jobs:
        args = job_args(job) + common_args(params)
        rc, doc, err = r.run_json(['plan', '--json'] + args)
        if rc != 0 or not isinstance(doc, dict):
            r.fail(one_line_error(doc, err, 'mailharden plan failed (exit %d)' % rc),
                   exit_code=rc, server=job['server'], stderr=err)
        notes += doc.get('notes', [])
        if not doc.get('changed'):
            continue
        changed = True
        if check_mode:
            all_files += doc.get('files', [])
            continue
        apply_args = ['apply', '--json', '--yes'] + args
        if not params['reload']:
            apply_args.append('--no-reload')
        rc, adoc, err = r.run_json(apply_args)
        if rc != 0 or not isinstance(adoc, dict):
            r.fail(one_line_error(adoc, err, 'mailharden apply failed (exit %d)' % rc),
                   exit_code=rc, server=job['server'], stderr=err,
                   rolled_back=bool(adoc and adoc.get('rolled_back')),
                   checkpoint=adoc.get('checkpoint') if adoc else None)
        all_files += adoc.get('files', [])
        notes += [n for n in adoc.get('notes', []) if n not in notes]
        checkpoints.append({'server': job['server'], 'checkpoint': adoc.get('checkpoint'),
                            'written': adoc.get('written', [])})
    result = dict(changed=changed, files=all_files, notes=notes, checkpoints=checkpoints,
                  checkpoint=checkpoints[-1]['checkpoint'] if checkpoints else None)
    if r.module._diff and all_files:
        result['diff'] = {'prepared': diff_text(all_files)}
    r.module.exit_json(**result)


def tested(r, params):
    args = ['selftest', '--json'] + common_args(params)
    if params['host']:
        args += ['--host', params['host']]
    if params['ports']:
        args += ['--port', ','.join(params['ports'])]
    if params['profile']:
        args += ['--profile', params['profile']]
    if params['cafile']:
        args += ['--cafile', params['cafile']]
    rc, doc, err = r.run_json(args)
    if not isinstance(doc, dict):
        r.fail(one_line_error(None, err, 'mailharden selftest failed (exit %d)' % rc), exit_code=rc)
    findings, untested, worst = [], [], 'ok'
    for p in doc.get('ports', []):
        where = '%s/%s' % (p.get('port'), p.get('role'))
        if p.get('status') != 'tested':
            untested.append('%s: %s' % (where, p.get('error')))
        for f in p.get('findings', []):
            f = dict(f, port=p.get('port'), role=p.get('role'))
            findings.append(f)
            if SEVERITIES.index(f['severity']) > SEVERITIES.index(worst):
                worst = f['severity']
    result = dict(changed=False, findings=findings, worst=worst, untested=untested,
                  exit_code=rc, report=doc)
    critical = [f for f in findings if f['severity'] == 'critical']
    if critical:
        r.fail('critical: %s/%s: %s' % (critical[0]['port'], critical[0]['role'], critical[0]['text'])
               + (' (and %d more)' % (len(critical) - 1) if len(critical) > 1 else ''), **result)
    if untested and params['fail_on_untested']:
        r.fail('could not test %s' % untested[0], **result)
    r.module.exit_json(**result)


def rolled_back(r, params, check_mode):
    rc, hist, err = r.run_json(['history', '--json'] + common_args(params))
    if rc != 0 or not isinstance(hist, list):
        r.fail(one_line_error(None, err, 'mailharden history failed (exit %d)' % rc), exit_code=rc)
    want = params['checkpoint']
    cps = [c for c in hist if not want or c.get('id') == want]
    if not cps:
        r.fail('no checkpoint %s' % want if want else 'no checkpoint to roll back')
    cp = cps[-1]
    if cp.get('rolled_back'):
        r.module.exit_json(changed=False, checkpoint=cp['id'], files=cp.get('files', []))
    if check_mode:
        r.module.exit_json(changed=True, checkpoint=cp['id'], files=cp.get('files', []))
    args = ['rollback', cp['id']] + common_args(params)
    if not params['reload']:
        args.append('--no-reload')
    rc, out, err = r.run(args)
    if rc != 0:
        r.fail(one_line_error(None, err, 'mailharden rollback failed (exit %d)' % rc), exit_code=rc)
    r.module.exit_json(changed=True, checkpoint=cp['id'], files=cp.get('files', []))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type='path'),
            state=dict(type='str', default='hardened', choices=['hardened', 'tested', 'rolled_back']),
            root=dict(type='path'),
            server=dict(type='str'),
            roles=dict(type='list', elements='str'),
            profile=dict(type='str'),
            cert=dict(type='path'),
            key=dict(type='path', no_log=False),
            dh=dict(type='path'),
            sasl=dict(type='str'),
            answers_file=dict(type='path'),
            reload=dict(type='bool', default=True),
            host=dict(type='str'),
            ports=dict(type='list', elements='str'),
            cafile=dict(type='path'),
            fail_on_untested=dict(type='bool', default=False),
            checkpoint=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    r = Runner(module)
    state = module.params['state']
    if state == 'hardened':
        harden(r, module.params, module.check_mode)
    elif state == 'tested':
        tested(r, module.params)
    else:
        rolled_back(r, module.params, module.check_mode)


if __name__ == '__main__':
    main()
