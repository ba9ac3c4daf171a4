-- Without the module: core vim.lsp.buf.code_action() on a visual selection (a `<Cmd>` mapping
-- keeps visual mode, so Neovim takes the range from the selection). LspProgress must show our
-- begin and end; undoing the action takes several `u` (each streamed edit is its own step).
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure(false)
H.run(function()
  local bufnr, client = H.open(case.file)
  local source = H.read(case.file)
  local events = H.progress_events()
  vim.keymap.set('x', '<F5>', function()
    vim.lsp.buf.code_action({
      apply = true,
      filter = function(action)
        return action.title == case.pick
      end,
    })
  end)
  H.keys(('%dGV%dG<F5><Esc>'):format(case.first, case.last))
  H.wait('progress end', function()
    return #events > 0 and events[#events].kind == 'end'
  end)
  H.wait('the buffer to hold the result', function()
    return H.text(bufnr) == H.read('expected.txt')
  end, 3000)

  H.check('client', client.name, 'responses_lsp')
  H.check('first progress event', { events[1].kind, events[1].title }, { 'begin', case.pick })
  local last = events[#events]
  H.check(
    'last progress event',
    { last.kind, last.title, last.token },
    { 'end', case.pick, events[1].token }
  )
  H.check('end message', (last.message or ''):match('^done') ~= nil, true)
  H.check('buffer text', H.text(bufnr), H.read('expected.txt'))

  vim.cmd('silent undo')
  H.check('one u does not restore without the module', H.text(bufnr) ~= source, true)
  local steps = H.undo_steps_to(bufnr, source, 500)
  H.log('undo steps needed without the module: %s', steps and steps + 1 or 'more than 500')
  H.check('the original is reachable by undo', steps ~= nil, true)
end)
