// A page of a cluster's unlabelled members with checkboxes. Item text is
// untrusted: it is only ever a React text node (never HTML), and an image is
// an <img> pointing at the item file endpoint, which serves it with a safe
// type, nosniff and a sandboxing CSP.

import { useEffect, useRef, type ChangeEvent } from "react";

import type { ClusterMember } from "./clustersApi";
import { pageState, type Selection } from "./selection";

export interface MemberTableProps {
  members: ClusterMember[];
  selection: Selection;
  disabled?: boolean;
  onClickRow: (id: number, shift: boolean) => void;
  onTogglePage: () => void;
}

export function confidenceText(confidence: number | null): string {
  return confidence === null ? "no confidence" : `${Math.round(confidence * 100)}%`;
}

/** The shift key of the click (or Space press) that changed a checkbox. */
function withShift(event: ChangeEvent<HTMLInputElement>): boolean {
  return (event.nativeEvent as MouseEvent).shiftKey === true;
}

export function MemberTable({ members, selection, disabled, onClickRow, onTogglePage }: MemberTableProps) {
  const page = members.map((member) => member.id);
  const state = pageState(selection, page);
  const allBox = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // "Mixed" has no attribute in HTML; it is a DOM property only.
    if (allBox.current) allBox.current.indeterminate = state === "some";
  }, [state]);

  return (
    <table className="data-table members-table">
      <caption className="visually-hidden">Unlabelled members, most confident proposal first</caption>
      <thead>
        <tr>
          <th scope="col" className="check">
            <input
              ref={allBox}
              type="checkbox"
              aria-label="Select all on this page"
              checked={state === "all"}
              disabled={disabled || members.length === 0}
              onChange={onTogglePage}
            />
          </th>
          <th scope="col">Item</th>
          <th scope="col">Proposal</th>
          <th scope="col">Confidence</th>
        </tr>
      </thead>
      <tbody>
        {members.map((member) => {
          const checked = selection.ids.has(member.id);
          return (
            <tr key={member.id} data-item-id={member.id} className={checked ? "checked" : undefined}>
              <td className="check">
                <input
                  type="checkbox"
                  aria-label={`Select item ${member.id}`}
                  checked={checked}
                  disabled={disabled}
                  onChange={(event) => onClickRow(member.id, withShift(event))}
                />
              </td>
              <td>
                {member.modality === "image" && member.file_url ? (
                  <img className="member-image" src={member.file_url} alt={`Image item ${member.id}`} loading="lazy" />
                ) : (
                  <p className="member-text">{member.text}</p>
                )}
                <span className="muted small">
                  #{member.id}
                  {member.external_id ? ` · ${member.external_id}` : ""}
                </span>
              </td>
              <td>{member.proposal.labels.length ? member.proposal.labels.join(", ") : <span className="muted">none</span>}</td>
              <td className="num">{confidenceText(member.proposal.confidence)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
